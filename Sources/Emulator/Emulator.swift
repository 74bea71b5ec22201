// Emulator: placeholder, filled in by its issue.
