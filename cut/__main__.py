import sys

from cut.cli import main

sys.exit(main())
