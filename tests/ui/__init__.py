"""End-to-end tests of the web UI in a real browser (Playwright driving Chromium)."""
