###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Disable
# `scmapper apply --action disable`: the account inactive; its roles leave the next export.
# All else is shared, in scmapper-common.ps1 next to the scmapper executable
# (docs/helloid.md): the settings, starting scmapper, copying its result.
###############################################################################
try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')
    Invoke-ScmapperAction -Action 'disable' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
} catch {
    $outputContext.AuditLogs.Add([PSCustomObject]@{ Action = 'DisableAccount'; IsError = $true; Message = "scmapper (disable): $($_.Exception.Message)" })
}
