#!/usr/bin/env python3
"""Independent checks of dpucert reports with third-party Python consumers.

  validate_reports.py junit FILE TESTS FAILURES ERRORS SKIPPED
      Parses FILE with junitparser and xunitparser (two parsers CI reporters use) and
      checks that every suite's count attributes match its testcase elements, that no
      (classname, name) pair repeats, and that both parsers see the expected totals.
  validate_reports.py schema SCHEMA FILE
      Validates the JSON document FILE against the JSON Schema SCHEMA (draft picked from
      its $schema), with format checking (date-time, uuid).

Exit status: 0 valid, 1 invalid (reason on stderr), 77 a required package is missing.
Packages: junitparser, xunitparser, jsonschema (+ rfc3339-validator for date-time).
"""

import json
import sys

MISSING = 77


def need(module):
    try:
        return __import__(module)
    except ImportError:
        print(f"missing Python package: {module} (pip install {module})", file=sys.stderr)
        sys.exit(MISSING)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check_junit(path, tests, failures, errors, skipped):
    junitparser = need("junitparser")
    xunitparser = need("xunitparser")
    from junitparser import Error, Failure, Skipped

    expected = (tests, failures, errors, skipped)
    document = junitparser.JUnitXml.fromfile(path)
    totals = [0, 0, 0, 0]
    seen = set()
    for suite in document:
        cases = list(suite)

        def count(kind):
            return sum(any(type(r) is kind for r in case.result) for case in cases)

        actual = (len(cases), count(Failure), count(Error), count(Skipped))
        declared = (suite.tests, suite.failures, suite.errors, suite.skipped)
        if declared != actual:
            fail(f"junitparser: suite {suite.name}: attributes (tests, failures, errors, skipped) "
                 f"{declared} but elements {actual}")
        for index, value in enumerate(actual):
            totals[index] += value
        for case in cases:
            key = (case.classname, case.name)
            if key in seen:
                fail(f"junitparser: duplicate testcase {key}")
            seen.add(key)
    if tuple(totals) != expected:
        fail(f"junitparser: totals (tests, failures, errors, skipped) {tuple(totals)}, expected {expected}")

    with open(path, "rb") as handle:
        _, result = xunitparser.parse(handle)
    seen_by_xunit = (result.testsRun, len(result.failures), len(result.errors), len(result.skipped))
    if seen_by_xunit != expected:
        fail(f"xunitparser: (run, failures, errors, skipped) {seen_by_xunit}, expected {expected}")
    print(f"junit ok: {expected}")


def check_schema(schema_path, document_path):
    jsonschema = need("jsonschema")
    need("rfc3339_validator")
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    with open(document_path, encoding="utf-8") as handle:
        document = json.load(handle)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if problems:
        fail("\n".join(f"{'/'.join(map(str, p.absolute_path)) or '<root>'}: {p.message[:500]}"
                       for p in problems[:20]))
    print(f"schema ok: {document_path}")


def main(argv):
    if len(argv) == 7 and argv[1] == "junit":
        check_junit(argv[2], *map(int, argv[3:7]))
    elif len(argv) == 4 and argv[1] == "schema":
        check_schema(argv[2], argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
