###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: Export
# Writes Users.csv and Roles.csv for Spend Cloud with `scmapper export`, which checks
# them (preflight, mass-removal thresholds) before anything is replaced, and reports.
#
# Two ways to run it (docs/helloid.md):
# - scheduled on the agent server, with the settings in a JSON file holding the same
#   four fields as the HelloID configuration:
#     powershell.exe -NoProfile -ExecutionPolicy Bypass -File export.ps1 -SettingsFile C:\HelloID\SpendCloud\settings.json
#   -Check compares and writes nothing; -Force writes although a threshold trips (recorded).
#   The exit code is scmapper's: 0 written, 1 refused, 2 settings or mapping, 3 internal error.
# - as the target system's resources script: the settings come from the configuration,
#   a preview (DryRun) only checks, and the outcome goes to the audit log. It never forces.
# Needs scmapper-common.ps1 next to the scmapper executable.
###############################################################################
param(
    [string] $SettingsFile,
    [switch] $Check,
    [switch] $Force
)

$inHelloId = (Test-Path -Path 'variable:outputContext') -and (Test-Path -Path 'variable:actionContext')

function Write-ExportOutcome {
    # The report lines to HelloID's audit log, or to the console of a scheduled run.
    param([object[]] $Lines, [bool] $Success)
    if ($inHelloId) {
        foreach ($line in $Lines) {
            $outputContext.AuditLogs.Add([PSCustomObject]@{
                    Action  = 'CreateResource'
                    Message = [string]$line.Message
                    IsError = [bool]$line.IsError
                })
        }
        $outputContext.Success = $Success
    } else {
        foreach ($line in $Lines) {
            if ($line.IsError) {
                Write-Output "ERROR: $($line.Message)"
            } else {
                Write-Output $line.Message
            }
        }
    }
}

$exitCode = 3
try {
    if ($inHelloId) {
        $configuration = $actionContext.Configuration
        $checkOnly = ($actionContext.DryRun -eq $true)
        $forceWrite = $false
        $timeoutSeconds = 540
        if ($checkOnly) {
            $timeoutSeconds = 25
        }
    } else {
        if ([string]::IsNullOrWhiteSpace($SettingsFile)) {
            throw 'give the settings file: export.ps1 -SettingsFile C:\HelloID\SpendCloud\settings.json'
        }
        $configuration = Get-Content -LiteralPath $SettingsFile -Raw -Encoding UTF8 -ErrorAction Stop | ConvertFrom-Json
        $checkOnly = [bool]$Check
        $forceWrite = [bool]$Force
        $timeoutSeconds = 3600
    }

    $scmapperExecutable = [string]$configuration.scmapperPath
    if ([string]::IsNullOrWhiteSpace($scmapperExecutable)) {
        throw "the configuration field 'scmapperPath' is empty"
    }
    $scmapperCommon = Join-Path -Path (Split-Path -Path $scmapperExecutable -Parent) -ChildPath 'scmapper-common.ps1'
    if (-not (Test-Path -LiteralPath $scmapperCommon -PathType Leaf)) {
        throw "$scmapperCommon does not exist: copy scmapper-common.ps1 next to the scmapper executable"
    }
    . $scmapperCommon

    $outcome = Invoke-ScmapperExport -Configuration $configuration -Check:$checkOnly -Force:$forceWrite -TimeoutSeconds $timeoutSeconds
    $exitCode = $outcome.ExitCode
    if ($null -eq $exitCode) {
        $exitCode = 3
    }
    if (-not $inHelloId -and -not [string]::IsNullOrWhiteSpace($outcome.StdErr)) {
        Write-Output $outcome.StdErr.Trim()
    }
    Write-ExportOutcome -Lines @($outcome.Lines) -Success ($exitCode -eq 0)
} catch {
    $exitCode = 2
    Write-ExportOutcome -Lines @([PSCustomObject]@{ Message = "Could not run scmapper export: $($_.Exception.Message)"; IsError = $true }) -Success $false
}

if (-not $inHelloId) {
    exit $exitCode
}
