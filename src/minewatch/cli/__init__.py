"""Command-line interface (typer). A thin adapter over the core: no analysis lives here."""
