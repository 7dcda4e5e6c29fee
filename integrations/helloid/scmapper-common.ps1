###############################################################################
# scmapper-common.ps1: the part the HelloID Spend Cloud scripts share.
#
# It starts scmapper, hands it HelloID's event as JSON on stdin and copies the JSON
# result into $outputContext. It decides nothing about persons, names, roles or
# thresholds: those rules live in scmapper and the mapping file.
#
# Deployment: HelloID uploads each action script on its own and has no place for a
# shared file, so this file is copied on the agent server into the folder that holds
# the scmapper executable (the configuration field scmapperPath, normally
# ...\venv\Scripts\scmapper.exe). Every script dot-sources it from there.
# See docs/helloid.md.
#
# Works on Windows PowerShell 5.1 (.NET Framework 4.5 or later) and PowerShell 7.
###############################################################################

function Get-ScmapperSetting {
    # One value of the connector configuration; a clear error when it is empty.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [AllowNull()] [object] $Configuration,
        [Parameter(Mandatory = $true)] [string] $Name
    )
    $value = $null
    if ($Configuration -is [System.Collections.IDictionary]) {
        $value = $Configuration[$Name]
    } elseif ($null -ne $Configuration) {
        $property = $Configuration.PSObject.Properties[$Name]
        if ($null -ne $property) {
            $value = $property.Value
        }
    }
    if ([string]::IsNullOrWhiteSpace([string]$value)) {
        throw "the configuration field '$Name' is empty; fill it in on the target system's configuration"
    }
    return ([string]$value).Trim()
}

function ConvertTo-ScmapperQuotedArgument {
    # One argument quoted for a Windows command line, so that the C runtime of the
    # started program reads it back unchanged (spaces, quotes, trailing backslashes).
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $Value)
    if ($Value.Length -gt 0 -and $Value -notmatch '[\s"]') {
        return $Value
    }
    $backslash = [char]92
    $builder = New-Object System.Text.StringBuilder
    [void]$builder.Append('"')
    $pending = 0
    foreach ($character in $Value.ToCharArray()) {
        if ($character -eq $backslash) {
            $pending++
            continue
        }
        if ($character -eq [char]34) {
            [void]$builder.Append($backslash, (2 * $pending) + 1)
        } elseif ($pending -gt 0) {
            [void]$builder.Append($backslash, $pending)
        }
        [void]$builder.Append($character)
        $pending = 0
    }
    if ($pending -gt 0) {
        [void]$builder.Append($backslash, 2 * $pending)
    }
    [void]$builder.Append('"')
    return $builder.ToString()
}

function Invoke-ScmapperProcess {
    # Runs the scmapper executable with UTF-8 on stdin, stdout and stderr, and a time limit.
    # Returns ExitCode (null when stopped), StdOut, StdErr and TimedOut.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [string] $Executable,
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string[]] $ArgumentList,
        [AllowNull()] [string] $InputText,
        [int] $TimeoutSeconds = 22
    )
    if (-not (Test-Path -LiteralPath $Executable -PathType Leaf)) {
        throw "the scmapper executable '$Executable' does not exist (configuration field scmapperPath)"
    }
    $utf8 = New-Object System.Text.UTF8Encoding -ArgumentList $false

    $startInfo = New-Object System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $Executable
    $startInfo.Arguments = (@($ArgumentList | ForEach-Object { ConvertTo-ScmapperQuotedArgument -Value $_ }) -join ' ')
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardOutputEncoding = $utf8
    $startInfo.StandardErrorEncoding = $utf8
    if ($null -ne $startInfo.PSObject.Properties['StandardInputEncoding']) {
        # PowerShell 7 (.NET 5+) only; Windows PowerShell 5.1 takes it from [Console]::InputEncoding.
        $startInfo.StandardInputEncoding = $utf8
    }
    # Python writes to a pipe in the Windows ANSI code page unless told otherwise.
    $startInfo.EnvironmentVariables['PYTHONUTF8'] = '1'
    $startInfo.EnvironmentVariables['PYTHONIOENCODING'] = 'utf-8'

    # The console's encodings are left alone: the input goes in as UTF-8 bytes written straight
    # to the pipe, and the output is read as UTF-8 (StandardOutputEncoding above), so nothing
    # process-wide changes under scripts HelloID runs side by side in one process.

    $process = New-Object System.Diagnostics.Process
    $process.StartInfo = $startInfo
    try {
        [void]$process.Start()
        $stdoutTask = $process.StandardOutput.ReadToEndAsync()
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if (-not [string]::IsNullOrEmpty($InputText)) {
            # The bytes themselves, so no code page or byte-order mark gets in between.
            $bytes = $utf8.GetBytes($InputText)
            try {
                $process.StandardInput.BaseStream.Write($bytes, 0, $bytes.Length)
                $process.StandardInput.BaseStream.Flush()
            } catch {
                # scmapper stopped before reading its input; its exit code and stderr say why.
                Write-Verbose "scmapper did not read its input: $($_.Exception.Message)"
            }
        }
        try {
            $process.StandardInput.Close()
        } catch {
            Write-Verbose 'scmapper closed its input early'
        }

        # At most TimeoutSeconds + 4 in all (2 after a kill, 2 for both readers together): with the
        # default 22 an action reports within HelloID's 30 seconds whatever scmapper does.
        $finished = $process.WaitForExit($TimeoutSeconds * 1000)
        if ($finished) {
            $process.WaitForExit()  # lets the asynchronous readers reach the end of the output
        } else {
            try { $process.Kill() } catch { Write-Verbose "could not stop scmapper: $($_.Exception.Message)" }
            [void]$process.WaitForExit(2000)
        }
        $stdout = ''
        $stderr = ''
        $readers = [System.Threading.Tasks.Task]::WaitAll(@($stdoutTask, $stderrTask), 2000)
        if ($readers -or $stdoutTask.IsCompleted) { $stdout = $stdoutTask.Result }
        if ($readers -or $stderrTask.IsCompleted) { $stderr = $stderrTask.Result }
        $exitCode = $null
        if ($finished) {
            $exitCode = $process.ExitCode
        }
        return [PSCustomObject]@{
            ExitCode = $exitCode
            StdOut   = $stdout
            StdErr   = $stderr
            TimedOut = (-not $finished)
        }
    } finally {
        $process.Dispose()
    }
}

function ConvertTo-ScmapperEventJson {
    # HelloID's contexts as compact JSON for scmapper. Windows PowerShell 5.1 writes a date as
    # "\/Date(ms)\/", the instant in UTC: a local midnight in Amsterdam becomes 23:00 or 22:00
    # the day before, and read as a day it would shift a date window by one. Each such date
    # gets the agent's UTC offset at that instant ("\/Date(ms+0100)\/", as ASP.NET writes it),
    # so scmapper reads the day the agent saw. PowerShell 7 writes ISO dates with their offset.
    param([Parameter(Mandatory = $true)] [AllowNull()] [object] $Payload)
    $json = ConvertTo-Json -InputObject $Payload -Depth 20 -Compress
    $withOffset = {
        param($match)
        $instant = (New-Object System.DateTime -ArgumentList 1970, 1, 1, 0, 0, 0, ([System.DateTimeKind]::Utc)).AddMilliseconds([double]$match.Groups[1].Value)
        $offset = [System.TimeZoneInfo]::Local.GetUtcOffset($instant)
        $sign = '+'
        if ($offset -lt [System.TimeSpan]::Zero) { $sign = '-' }
        $minutes = [System.Math]::Abs([int]$offset.TotalMinutes)
        return ('"\/Date({0}{1}{2:00}{3:00})\/"' -f $match.Groups[1].Value, $sign, [System.Math]::Floor($minutes / 60), ($minutes % 60))
    }
    return [regex]::Replace($json, '"\\/Date\((-?\d+)\)\\/"', $withOffset)
}

function Get-ScmapperAuditAction {
    # HelloID's audit action for a lifecycle action, for errors raised before scmapper answers.
    param([Parameter(Mandatory = $true)] [string] $Action)
    switch ($Action) {
        'create' { return 'CreateAccount' }
        'update' { return 'UpdateAccount' }
        'enable' { return 'EnableAccount' }
        'disable' { return 'DisableAccount' }
        'delete' { return 'DeleteAccount' }
    }
    return 'UpdateAccount'
}

function New-ScmapperAuditLog {
    param(
        [Parameter(Mandatory = $true)] [string] $Action,
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $Message,
        [bool] $IsError = $false
    )
    return [PSCustomObject]@{
        Action  = $Action
        Message = $Message
        IsError = $IsError
    }
}

function Set-ScmapperOutputValue {
    # Sets a field of $outputContext when this action's context has it (AccountCorrelated, for
    # one, exists only for create): an object's property, or a hashtable's key (HelloID's own
    # debug start builds the context as a hashtable).
    param(
        [Parameter(Mandatory = $true)] [object] $OutputContext,
        [Parameter(Mandatory = $true)] [string] $Name,
        [AllowNull()] [object] $Value
    )
    if ($OutputContext -is [System.Collections.IDictionary]) {
        if ($OutputContext.Contains($Name)) {
            $OutputContext[$Name] = $Value
        }
    } elseif ($null -ne $OutputContext.PSObject.Properties[$Name]) {
        $OutputContext.$Name = $Value
    }
}

function Merge-ScmapperData {
    # scmapper's row laid over what HelloID's field mapping put in Data: scmapper's columns take
    # its values, every other field HelloID set stays (a roles field that triggers updates, say).
    param(
        [AllowNull()] [object] $Data,
        [Parameter(Mandatory = $true)] [object] $Row
    )
    if ($null -eq $Data) {
        return $Row
    }
    foreach ($property in $Row.PSObject.Properties) {
        if ($Data -is [System.Collections.IDictionary]) {
            $Data[$property.Name] = $property.Value
        } elseif ($null -ne $Data.PSObject.Properties[$property.Name]) {
            $Data.($property.Name) = $property.Value
        } else {
            $Data | Add-Member -NotePropertyName $property.Name -NotePropertyValue $property.Value
        }
    }
    return $Data
}

function Get-ScmapperTail {
    # The last part of a long text, for an audit message.
    param([AllowNull()] [string] $Text, [int] $Length = 1500)
    if ([string]::IsNullOrWhiteSpace($Text)) {
        return '(nothing)'
    }
    $trimmed = $Text.Trim()
    if ($trimmed.Length -le $Length) {
        return $trimmed
    }
    return '...' + $trimmed.Substring($trimmed.Length - $Length)
}

function Get-ScmapperFailureMessage {
    # What went wrong when scmapper gave no usable result, with its stderr.
    param(
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter(Mandatory = $true)] [object] $Run,
        [int] $TimeoutSeconds
    )
    $stderr = Get-ScmapperTail -Text $Run.StdErr
    if ($Run.TimedOut) {
        return "scmapper $Command did not finish within $TimeoutSeconds seconds and was stopped (a database locked by another run?). stderr: $stderr"
    }
    switch ($Run.ExitCode) {
        75 { return "scmapper $Command found the database busy (another run held it); nothing was done: the action runs again at the next enforcement. stderr: $stderr" }
        2 { return "scmapper $Command refused the event, the mapping or the settings (exit 2): $stderr" }
        3 { return "scmapper $Command failed with an internal error (exit 3): $stderr" }
    }
    $stdout = Get-ScmapperTail -Text $Run.StdOut -Length 500
    return "scmapper $Command exited with code $($Run.ExitCode) without a readable JSON result. stdout: $stdout stderr: $stderr"
}

function Read-ScmapperResultLine {
    # The JSON result `scmapper apply` prints as its one line of output, or $null.
    param([AllowNull()] [string] $Text)
    if ([string]::IsNullOrWhiteSpace($Text)) {
        return $null
    }
    $lines = @($Text -split "`r?`n" | Where-Object { $_.Trim().Length -gt 0 })
    if ($lines.Count -eq 0) {
        return $null
    }
    try {
        return (ConvertFrom-Json -InputObject $lines[$lines.Count - 1])
    } catch {
        return $null
    }
}

function Invoke-ScmapperAction {
    # One HelloID account action: serialise the contexts, run `scmapper apply`, copy the result.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [ValidateSet('create', 'update', 'enable', 'disable', 'delete')] [string] $Action,
        [Parameter(Mandatory = $true)] [object] $ActionContext,
        [AllowNull()] [object] $PersonContext,
        [Parameter(Mandatory = $true)] [object] $OutputContext,
        [int] $TimeoutSeconds = 22
    )
    $auditAction = Get-ScmapperAuditAction -Action $Action
    Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'Success' -Value $false
    try {
        $configuration = $ActionContext.Configuration
        $executable = Get-ScmapperSetting -Configuration $configuration -Name 'scmapperPath'
        $mapping = Get-ScmapperSetting -Configuration $configuration -Name 'mappingPath'
        $database = Get-ScmapperSetting -Configuration $configuration -Name 'databasePath'

        $payload = [PSCustomObject]@{
            actionContext = $ActionContext
            personContext = $PersonContext
        }
        $json = ConvertTo-ScmapperEventJson -Payload $payload

        $arguments = @('apply', '--mapping', $mapping, '--db', $database, '--action', $Action, '-')
        Write-Information "Running scmapper apply --action $Action (DryRun: $($ActionContext.DryRun))"
        $run = Invoke-ScmapperProcess -Executable $executable -ArgumentList $arguments -InputText $json -TimeoutSeconds $TimeoutSeconds
        Write-Information "scmapper apply --action $Action exited with code $($run.ExitCode)"

        $result = $null
        if ((-not $run.TimedOut) -and ($run.ExitCode -eq 0 -or $run.ExitCode -eq 1)) {
            $result = Read-ScmapperResultLine -Text $run.StdOut
        }
        if ($null -eq $result) {
            $message = Get-ScmapperFailureMessage -Command "apply --action $Action" -Run $run -TimeoutSeconds $TimeoutSeconds
            Write-Warning $message
            [void]$OutputContext.AuditLogs.Add((New-ScmapperAuditLog -Action $auditAction -Message $message -IsError $true))
            return
        }
        if (-not [string]::IsNullOrWhiteSpace($run.StdErr)) {
            # Notes such as a mapping column that was dropped: for the log, not the audit.
            Write-Warning "scmapper: $($run.StdErr.Trim())"
        }

        foreach ($entry in @($result.auditLogs)) {
            if ($null -eq $entry) {
                continue
            }
            $log = New-ScmapperAuditLog -Action ([string]$entry.action) -Message ([string]$entry.message) -IsError ($entry.isError -eq $true)
            [void]$OutputContext.AuditLogs.Add($log)
        }
        if (-not [string]::IsNullOrEmpty([string]$result.accountReference)) {
            Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'AccountReference' -Value ([string]$result.accountReference)
        }
        Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'AccountCorrelated' -Value ($result.accountCorrelated -eq $true)
        if ($null -ne $result.data) {
            $data = Merge-ScmapperData -Data $OutputContext.Data -Row $result.data
            Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'Data' -Value $data
        }
        if ($null -ne $result.previousData) {
            Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'PreviousData' -Value $result.previousData
        }
        Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'Success' -Value ($run.ExitCode -eq 0 -and $result.success -eq $true)
    } catch {
        Set-ScmapperOutputValue -OutputContext $OutputContext -Name 'Success' -Value $false
        $message = "Could not run scmapper apply --action ${Action}: $($_.Exception.Message)"
        Write-Warning $message
        [void]$OutputContext.AuditLogs.Add((New-ScmapperAuditLog -Action $auditAction -Message $message -IsError $true))
    }
}

function Invoke-ScmapperExport {
    # Runs `scmapper export --json` and returns the exit code, the parsed report (or $null),
    # stderr, and report lines for a person to read. Check: compare only, write nothing.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [object] $Configuration,
        [switch] $Check,
        [switch] $Force,
        [int] $TimeoutSeconds = 540
    )
    $executable = Get-ScmapperSetting -Configuration $Configuration -Name 'scmapperPath'
    $mapping = Get-ScmapperSetting -Configuration $Configuration -Name 'mappingPath'
    $database = Get-ScmapperSetting -Configuration $Configuration -Name 'databasePath'
    $outputDir = Get-ScmapperSetting -Configuration $Configuration -Name 'outputDir'

    $arguments = @('export', '--mapping', $mapping, '--db', $database, '--out', $outputDir, '--json')
    if ($Check) { $arguments += '--check' }
    if ($Force) { $arguments += '--force' }
    $run = Invoke-ScmapperProcess -Executable $executable -ArgumentList $arguments -InputText $null -TimeoutSeconds $TimeoutSeconds

    $report = $null
    if ((-not $run.TimedOut) -and ($run.ExitCode -eq 0 -or $run.ExitCode -eq 1) -and -not [string]::IsNullOrWhiteSpace($run.StdOut)) {
        try {
            $report = ConvertFrom-Json -InputObject $run.StdOut
        } catch {
            $report = $null
        }
    }

    $lines = New-Object System.Collections.Generic.List[object]
    if ($null -eq $report) {
        $message = Get-ScmapperFailureMessage -Command 'export' -Run $run -TimeoutSeconds $TimeoutSeconds
        $lines.Add([PSCustomObject]@{ Message = $message; IsError = $true })
    } else {
        $counts = $report.counts
        $lines.Add([PSCustomObject]@{
                Message = "Export $($report.status): $($counts.persons) persons and $($counts.roles) roles (last export: $($counts.previousPersons) and $($counts.previousRoles))"
                IsError = ($run.ExitCode -ne 0)
            })
        foreach ($warning in @($report.warnings)) {
            if ($null -ne $warning) { $lines.Add([PSCustomObject]@{ Message = "Warning: $warning"; IsError = $false }) }
        }
        foreach ($problem in @($report.problems)) {
            if ($null -ne $problem) { $lines.Add([PSCustomObject]@{ Message = "Problem: $problem"; IsError = $true }) }
        }
        foreach ($threshold in @($report.thresholds)) {
            if ($null -eq $threshold -or $threshold.tripped -ne $true) { continue }
            $verdict = 'refused'
            if ($report.forced -eq $true) { $verdict = 'overridden with --force' }
            $lines.Add([PSCustomObject]@{
                    Message = "Threshold $($threshold.name) $($verdict): $($threshold.removed) of $($threshold.of) ($($threshold.percent)%) would be removed"
                    IsError = ($report.forced -ne $true)
                })
        }
        foreach ($file in @($report.files)) {
            if ($null -ne $file) { $lines.Add([PSCustomObject]@{ Message = "Wrote $($file.path) ($($file.rows) rows)"; IsError = $false }) }
        }
        if (-not [string]::IsNullOrWhiteSpace([string]$report.hint)) {
            # scmapper's flags; export.ps1 takes them as -Force and -Check
            $lines.Add([PSCustomObject]@{ Message = "Refused: $($report.hint)"; IsError = $false })
        }
    }
    return [PSCustomObject]@{
        ExitCode = $run.ExitCode
        Report   = $report
        StdErr   = $run.StdErr
        Lines    = $lines
    }
}

function Get-ScmapperAccounts {
    # The accounts in the database, as `scmapper accounts --json-lines` lists them: one object
    # per account (accountReference, enabled, userName, displayName, aliases, data). Throws with
    # scmapper's message when it cannot list them.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [object] $Configuration,
        [int] $TimeoutSeconds = 300
    )
    $executable = Get-ScmapperSetting -Configuration $Configuration -Name 'scmapperPath'
    $mapping = Get-ScmapperSetting -Configuration $Configuration -Name 'mappingPath'
    $database = Get-ScmapperSetting -Configuration $Configuration -Name 'databasePath'

    $arguments = @('accounts', '--mapping', $mapping, '--db', $database, '--json-lines')
    $run = Invoke-ScmapperProcess -Executable $executable -ArgumentList $arguments -InputText $null -TimeoutSeconds $TimeoutSeconds
    if ($run.TimedOut -or $run.ExitCode -ne 0) {
        throw (Get-ScmapperFailureMessage -Command 'accounts' -Run $run -TimeoutSeconds $TimeoutSeconds)
    }
    $accounts = New-Object System.Collections.Generic.List[object]
    foreach ($line in @($run.StdOut -split "`r?`n")) {
        if ($line.Trim().Length -gt 0) {
            # One line at a time: Windows PowerShell's ConvertFrom-Json has a size limit per call.
            $accounts.Add((ConvertFrom-Json -InputObject $line))
        }
    }
    return $accounts
}
