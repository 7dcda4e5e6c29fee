import sys

from scmapper.cli.main import main

sys.exit(main())
