"""``python -m mock_api serve ...``: the same as the ``mock-openai`` command."""

from mock_api.cli import main

if __name__ == "__main__":
    main(prog_name="mock-openai")
