###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Delete
# `scmapper apply --action delete`: the account removed as the mapping's lifecycle.delete says.
# All else is shared, in scmapper-common.ps1 next to the scmapper executable
# (docs/helloid.md): the settings, starting scmapper, copying its result.
###############################################################################
try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')
    Invoke-ScmapperAction -Action 'delete' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
} catch {
    $outputContext.AuditLogs.Add([PSCustomObject]@{ Action = 'DeleteAccount'; IsError = $true; Message = "scmapper (delete): $($_.Exception.Message)" })
}
