###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Create
# `scmapper apply --action create`: a new account, or one correlated on the employee number.
# All else is shared, in scmapper-common.ps1 next to the scmapper executable
# (docs/helloid.md): the settings, starting scmapper, copying its result.
###############################################################################
try {
    . (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')
    Invoke-ScmapperAction -Action 'create' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
} catch {
    $outputContext.AuditLogs.Add([PSCustomObject]@{ Action = 'CreateAccount'; IsError = $true; Message = "scmapper (create): $($_.Exception.Message)" })
}
