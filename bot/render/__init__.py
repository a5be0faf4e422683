"""Rendering: text and keyboards from plain data, with no Telegram calls and no storage.

So a card, a list or a digest can be rendered in a test or at the terminal.
"""
