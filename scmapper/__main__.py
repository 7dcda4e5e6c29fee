import sys

from scmapper.cli import main

sys.exit(main())
