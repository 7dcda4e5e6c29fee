###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Import (account entitlement import)
# PowerShell V2 target connector, run by the HelloID agent on the server where
# scmapper is installed. It lists the accounts scmapper keeps (`scmapper accounts`),
# so HelloID can show them and correlate the ones it does not know yet. It writes
# nothing. Needs scmapper-common.ps1 next to the scmapper executable: see docs/helloid.md.
###############################################################################

try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')

    Write-Information 'Listing the accounts in the scmapper database'
    $accounts = Get-ScmapperAccounts -Configuration $actionContext.Configuration
    foreach ($account in $accounts) {
        # Every field of HelloID's field mapping, under the name HelloID asked for: empty where
        # the account has no such column (HelloID's import wants the correlation field present).
        $data = @{}
        foreach ($name in @($actionContext.ImportFields)) {
            if ($null -eq $name) {
                continue
            }
            $field = $account.data.PSObject.Properties[[string]$name]
            $data[[string]$name] = if ($null -ne $field) { $field.Value } else { '' }
        }
        # The reference HelloID holds: the old connector's for an adopted account, until HelloID
        # addresses it by scmapper's own; DisplayName is at most 100 characters (scmapper cuts it).
        Write-Output @{
            AccountReference = [string]$account.accountReference
            DisplayName      = [string]$account.displayName
            UserName         = [string]$account.userName
            Enabled          = ($account.enabled -eq $true)
            Data             = $data
        }
    }
    Write-Information "Listed $($accounts.Count) accounts"
} catch {
    Write-Warning "Could not list the scmapper accounts: $($_.Exception.Message)"
    Write-Error "Could not import the Spend Cloud accounts. Error: $($_.Exception.Message)"
}
