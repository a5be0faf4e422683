"""The plan's files, installed with the bot as the package ``bot.data`` (see pyproject.toml)."""
