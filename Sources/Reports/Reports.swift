// Reports: placeholder, filled in by its issue.
