"""Ganymede core: generation settings, message types, backends, prompts and the call log."""
