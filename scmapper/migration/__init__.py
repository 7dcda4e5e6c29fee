"""Coming from the old PowerShell connector: its database read (`oldconnector`) and adopted
(`adopt`), a mapping compared with what HelloID holds (`compare`), the store reconciled with Spend
Cloud's user list (`reconcile`), and the accounts as HelloID's import reads them (`accounts`).

Never writes SQL itself (the store does), never changes the old connector's files.
"""
