"""Telegram handlers: commands and text, audio, inline buttons."""
