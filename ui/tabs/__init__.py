"""One module per app tab: widgets wired to the app's own functions."""
