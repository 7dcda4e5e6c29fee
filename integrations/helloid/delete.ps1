###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Delete
# PowerShell V2 target connector, run by the HelloID agent on the server where
# scmapper is installed. It hands the event to `scmapper apply --action delete` and
# copies the result into $outputContext; every rule lives in scmapper and its mapping.
# Needs scmapper-common.ps1 next to the scmapper executable: see docs/helloid.md.
###############################################################################

try {
    $scmapperExecutable = [string]$actionContext.Configuration.scmapperPath
    if ([string]::IsNullOrWhiteSpace($scmapperExecutable)) {
        throw "the configuration field 'scmapperPath' is empty"
    }
    $scmapperCommon = Join-Path -Path (Split-Path -Path $scmapperExecutable -Parent) -ChildPath 'scmapper-common.ps1'
    if (-not (Test-Path -LiteralPath $scmapperCommon -PathType Leaf)) {
        throw "$scmapperCommon does not exist: copy scmapper-common.ps1 next to the scmapper executable"
    }
    . $scmapperCommon
} catch {
    $outputContext.Success = $false
    $outputContext.AuditLogs.Add([PSCustomObject]@{
            Action  = 'DeleteAccount'
            Message = "Could not load the scmapper helper: $($_.Exception.Message)"
            IsError = $true
        })
    return
}

Invoke-ScmapperAction -Action 'delete' -ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext
