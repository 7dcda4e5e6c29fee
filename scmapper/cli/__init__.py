"""The `scmapper` command: the parser and the one error handler (`main`), one function per
subcommand (`commands`), the HTML pages (`htmlreport`), the audit log view (`auditlog`), `demo`
and `init`.

Never holds business logic: each command calls the layer that does the work and prints its report.
Nothing imports this package.
"""
