###############################################################################
# HelloID-Conn-Prov-Target-SpendCloud-scmapper: debug start
# Runs every account action script the way HelloID would, against a database of its own,
# so the first run on the agent is not the first run ever. For implementers, on the agent
# server or any Windows machine with scmapper installed (docs/helloid.md, "Try the scripts").
#
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File test\debugStart.ps1 `
#       -SettingsFile C:\HelloID\SpendCloud\settings.json `
#       -EventFile C:\HelloID\SpendCloud\samples\create-event.json
#
# -SettingsFile: the JSON file export.ps1 reads (scmapperPath and mappingPath are used; the
#   databasePath in it is never touched).
# -EventFile: a HelloID event, actionContext and personContext, such as the one `scmapper
#   init` writes, or a real person's taken from HelloID's preview.
# -OutputFolder: where the debug databases go (a new folder under the temporary folder when
#   left out); each run makes a folder of its own in it and never reuses a database.
#
# The actions run twice, with HelloID's contexts built as hashtables (as the V2 template's own
# debug start does) and as objects (as the agent hands them): dry-run create, create, update,
# disable, enable, delete. Each line says what the script put in $outputContext; the exit code
# is 0 when every action succeeded as HelloID would expect, 1 when one did not, 2 when the
# settings or the event cannot be read.
###############################################################################
param(
    [Parameter(Mandatory = $true)] [string] $SettingsFile,
    [Parameter(Mandatory = $true)] [string] $EventFile,
    [string] $OutputFolder
)

$scriptFolder = Split-Path -Path $PSScriptRoot -Parent
$steps = @(
    @{ Name = 'create'; DryRun = $true },
    @{ Name = 'create'; DryRun = $false },
    @{ Name = 'update'; DryRun = $false },
    @{ Name = 'disable'; DryRun = $false },
    @{ Name = 'enable'; DryRun = $false },
    @{ Name = 'delete'; DryRun = $false }
)

function New-DebugContext {
    # The same fields as a hashtable or as an object: HelloID's scripts must handle both.
    param([Parameter(Mandatory = $true)] [string] $Shape, [Parameter(Mandatory = $true)] [hashtable] $Fields)
    if ($Shape -eq 'Hashtable') {
        return $Fields
    }
    return [PSCustomObject]$Fields
}

function Read-DebugJson {
    param([Parameter(Mandatory = $true)] [string] $Path, [Parameter(Mandatory = $true)] [string] $What)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        throw "the $What '$Path' does not exist"
    }
    return (Get-Content -LiteralPath $Path -Raw -Encoding UTF8 | ConvertFrom-Json)
}

function Get-DebugValue {
    # A field of a hashtable or an object.
    param([AllowNull()] [object] $Context, [Parameter(Mandatory = $true)] [string] $Name)
    if ($Context -is [System.Collections.IDictionary]) {
        return $Context[$Name]
    }
    if ($null -ne $Context -and $null -ne $Context.PSObject.Properties[$Name]) {
        return $Context.PSObject.Properties[$Name].Value
    }
    return $null
}

function Invoke-DebugStep {
    # One action script, run as HelloID runs it: the three context variables in its scope.
    param(
        [Parameter(Mandatory = $true)] [string] $Shape,
        [Parameter(Mandatory = $true)] [hashtable] $Step,
        [Parameter(Mandatory = $true)] [object] $Configuration,
        [Parameter(Mandatory = $true)] [object] $SampleEvent,
        [AllowNull()] [object] $Reference
    )
    $fields = @{}
    foreach ($property in $SampleEvent.actionContext.PSObject.Properties) {
        $fields[$property.Name] = $property.Value
    }
    $fields['Configuration'] = $Configuration
    $fields['DryRun'] = $Step.DryRun
    $fields['References'] = New-DebugContext -Shape $Shape -Fields @{ Account = $Reference }
    $actionContext = New-DebugContext -Shape $Shape -Fields $fields
    $personContext = $SampleEvent.personContext

    $output = @{
        Success          = $false
        AuditLogs        = (New-Object System.Collections.Generic.List[object])
        AccountReference = $null
        Data             = (New-DebugContext -Shape $Shape -Fields @{ helloIdField = 'kept' })
        PreviousData     = $null
    }
    if ($Step.Name -eq 'create') {
        $output['AccountCorrelated'] = $false
    }
    $outputContext = New-DebugContext -Shape $Shape -Fields $output

    & (Join-Path -Path $scriptFolder -ChildPath "$($Step.Name).ps1") | Out-Null

    $success = (Get-DebugValue -Context $outputContext -Name 'Success') -eq $true
    $data = Get-DebugValue -Context $outputContext -Name 'Data'
    $kept = (Get-DebugValue -Context $data -Name 'helloIdField') -eq 'kept'
    $newReference = [string](Get-DebugValue -Context $outputContext -Name 'AccountReference')
    $label = $Step.Name
    if ($Step.DryRun) { $label = "$label (dry run)" }
    $verdict = 'ok'
    if (-not $success) {
        $verdict = 'FAILED'
    } elseif (-not $kept) {
        $verdict = 'FAILED: the field mapping data was not kept'
    } elseif ($Step.Name -eq 'create' -and [string]::IsNullOrEmpty($newReference)) {
        $verdict = 'FAILED: no account reference'
    }
    Write-Host ("[{0}] {1}: {2} (AccountReference {3})" -f $Shape, $label, $verdict, $newReference)
    foreach ($log in @(Get-DebugValue -Context $outputContext -Name 'AuditLogs')) {
        $marker = ' '
        if ($log.IsError) { $marker = '!' }
        Write-Host ("    {0} {1}: {2}" -f $marker, $log.Action, $log.Message)
    }
    return [PSCustomObject]@{ Passed = ($verdict -eq 'ok'); Reference = $newReference }
}

$exitCode = 1
try {
    $settings = Read-DebugJson -Path $SettingsFile -What 'settings file'
    $sampleEvent = Read-DebugJson -Path $EventFile -What 'event file'
    if ([string]::IsNullOrEmpty($OutputFolder)) {
        $OutputFolder = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath 'scmapper-debug'
    }
    $runFolder = Join-Path -Path $OutputFolder -ChildPath (Get-Date -Format 'yyyyMMdd-HHmmss-fff')
    New-Item -ItemType Directory -Path $runFolder -Force | Out-Null

    $allPassed = $true
    foreach ($shape in @('Hashtable', 'Object')) {
        $database = Join-Path -Path $runFolder -ChildPath "debug-$($shape.ToLowerInvariant()).db"
        $configuration = New-DebugContext -Shape $shape -Fields @{
            scmapperPath = [string]$settings.scmapperPath
            mappingPath  = [string]$settings.mappingPath
            databasePath = $database
        }
        $reference = $null
        foreach ($step in $steps) {
            $outcome = Invoke-DebugStep -Shape $shape -Step $step -Configuration $configuration -SampleEvent $sampleEvent -Reference $reference
            if (-not $outcome.Passed) {
                $allPassed = $false
            }
            if (-not $step.DryRun -and -not [string]::IsNullOrEmpty($outcome.Reference)) {
                $reference = $outcome.Reference
            }
        }
        Write-Host "[$shape] database: $database (its audit trail: scmapper log --db `"$database`")"
    }
    if ($allPassed) {
        Write-Host 'Every action succeeded with both context shapes.'
        $exitCode = 0
    } else {
        Write-Host 'Some actions failed: see the lines marked FAILED and their audit entries (!).'
    }
} catch {
    Write-Host "ERROR: $($_.Exception.Message)"
    $exitCode = 2
}
exit $exitCode
