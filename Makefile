# The two front-door commands (see README.md); everything they need is in .ci/setup.
.PHONY: demo test lint

demo:
	bash .ci/setup
	.venv/bin/textflix demo

test:
	bash .ci/setup --browser
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check app tests bench migrations
	.venv/bin/ruff format --check app tests bench migrations
	.venv/bin/mypy
	.venv/bin/lint-imports
