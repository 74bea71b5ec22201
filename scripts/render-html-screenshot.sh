#!/usr/bin/env bash
# Renders a dpucert HTML report to a PNG with headless Chromium, to check by eye how a
# report looks (Debian: apt-get install -y chromium).
#
#   scripts/render-html-screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]
#
# The page is loaded from the file with networking disabled, so a screenshot that looks
# right also shows the report needs nothing outside itself. Default size 1400x2400.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
report=$1
output=$2
size=${3:-1400x2400}
if [[ ! -f $report ]]; then
    echo "$0: no such report: $report" >&2
    exit 2
fi
if [[ ! $size =~ ^[0-9]+x[0-9]+$ ]]; then
    echo "$0: size must be WIDTHxHEIGHT, got: $size" >&2
    exit 2
fi

browser=""
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$candidate
        break
    fi
done
if [[ -z $browser ]]; then
    echo "$0: headless Chromium not found (apt-get install -y chromium)" >&2
    exit 3
fi

report_url="file://$(realpath "$report")"
output_path="$(realpath -m "$output")"
mkdir -p "$(dirname "$output_path")"
profile_dir=$(mktemp -d)
trap 'rm -rf "$profile_dir"' EXIT

# --no-sandbox: CI and lab machines often run this as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile_dir" --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
    --window-size="${size/x/,}" --screenshot="$output_path" "$report_url" >/dev/null 2>&1

if [[ ! -s $output_path ]]; then
    echo "$0: Chromium wrote no screenshot to $output_path" >&2
    exit 1
fi
echo "$output_path"
