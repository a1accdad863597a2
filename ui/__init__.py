"""The Gradio web UI: one tab per app. Tab modules only wire widgets to app functions."""
