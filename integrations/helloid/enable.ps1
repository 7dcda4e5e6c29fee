###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Enable
# `scmapper apply --action enable`: the account active again, its roles recomputed.
# All else is shared, in scmapper-common.ps1 next to the scmapper executable
# (docs/helloid.md): the settings, starting scmapper, copying its result.
###############################################################################
try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')
    Invoke-ScmapperAction -Action 'enable' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
} catch {
    $outputContext.AuditLogs.Add([PSCustomObject]@{ Action = 'EnableAccount'; IsError = $true; Message = "scmapper (enable): $($_.Exception.Message)" })
}
