###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Update
# `scmapper apply --action update`: the account's person and role rows recomputed from the person.
# All else is shared, in scmapper-common.ps1 next to the scmapper executable
# (docs/helloid.md): the settings, starting scmapper, copying its result.
###############################################################################
try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')
    Invoke-ScmapperAction -Action 'update' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
} catch {
    $outputContext.AuditLogs.Add([PSCustomObject]@{ Action = 'UpdateAccount'; IsError = $true; Message = "scmapper (update): $($_.Exception.Message)" })
}
