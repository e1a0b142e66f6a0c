"""``python -m acga`` = the ``acga`` console script."""

from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
