<#
.SYNOPSIS
Starts several ChatServers sharing one PostgreSQL backplane, for trying out
scale-out locally: a client on one server sees messages sent on another.

.DESCRIPTION
Builds ./cmd/server once, starts -Count servers on consecutive ports from
-BasePort, each with --connection-string <DatabaseUrl>, waits until every one answers
/health/ready (or /health where the server has no readiness endpoint), prints
the hub URLs and runs until Ctrl+C, then stops every server it started.
Parameters default to the environment variables the bash script reads
(BASE_PORT, COUNT, DATABASE_URL, SERVER_BIN, HEALTH_TIMEOUT, LOG_DIR).

.EXAMPLE
./scripts/start-multiple-servers.ps1
.EXAMPLE
./scripts/start-multiple-servers.ps1 -DatabaseUrl 'postgres://u:p@db:5432/chat' -BasePort 6000
.EXAMPLE
./scripts/start-multiple-servers.ps1 -DatabaseUrl none   # no backplane
#>
[CmdletBinding()]
param(
    [int]$BasePort = $(if ($env:BASE_PORT) { [int]$env:BASE_PORT } else { 5000 }),
    [int]$Count = $(if ($env:COUNT) { [int]$env:COUNT } else { 3 }),
    [string]$DatabaseUrl = $(if ($env:DATABASE_URL) { $env:DATABASE_URL } else { 'postgres://postgres:postgres@localhost:5432/signalr_demo' }),
    [string]$ServerBin = $env:SERVER_BIN,
    [int]$HealthTimeout = $(if ($env:HEALTH_TIMEOUT) { [int]$env:HEALTH_TIMEOUT } else { 60 }),
    [string]$LogDir = $env:LOG_DIR
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if ($Count -lt 1 -or $BasePort -lt 1 -or ($BasePort + $Count - 1) -gt 65535) {
    Write-Error "ports $BasePort..$($BasePort + $Count - 1) are out of range"
    exit 2
}

# $IsWindows does not exist in Windows PowerShell 5.1 (which only runs on Windows).
$onWindows = ($PSVersionTable.PSVersion.Major -lt 6) -or $IsWindows
$repo = Split-Path -Parent $PSScriptRoot
$work = Join-Path ([IO.Path]::GetTempPath()) ('chatservers.' + [guid]::NewGuid().ToString('N').Substring(0, 8))
New-Item -ItemType Directory -Path $work | Out-Null
if (-not $LogDir) { $LogDir = $work }
New-Item -ItemType Directory -Force -Path $LogDir | Out-Null

Add-Type -AssemblyName System.Net.Http
$http = New-Object System.Net.Http.HttpClient
$http.Timeout = [TimeSpan]::FromSeconds(2)

# Status returns the HTTP status of GET $url, or 0 if there is no answer.
function Get-Status([string]$url) {
    try { return [int]$http.GetAsync($url).GetAwaiter().GetResult().StatusCode } catch { return 0 }
}

function Show-Log([int]$n) {
    foreach ($f in @("chatserver$n.log", "chatserver$n.err.log")) {
        $path = Join-Path $LogDir $f
        if (Test-Path $path) { Get-Content -Tail 20 $path | Write-Host }
    }
}

$procs = New-Object System.Collections.Generic.List[System.Diagnostics.Process]

# Invoke-Servers runs until a server fails (returns 1) or Ctrl+C stops the
# script; the caller's finally block stops the servers either way.
function Invoke-Servers {
    if (-not $ServerBin) {
        Write-Host 'Building ./cmd/server...'
        $ServerBin = Join-Path $work $(if ($onWindows) { 'chatserver.exe' } else { 'chatserver' })
        Push-Location $repo
        try {
            & go build -o $ServerBin ./cmd/server | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "go build failed with exit code $LASTEXITCODE" }
        } finally { Pop-Location }
    }

    $backplane = @()
    if ($DatabaseUrl -ne 'none') {
        $backplane = @('--connection-string', $DatabaseUrl)
        # Hide the password of a URL or of an Npgsql/libpq keyword string.
        Write-Host ('Backplane: ' + (($DatabaseUrl -replace '(://[^:/@]*:)[^@]*@', '$1****@') -replace '(?i)(password|pwd) *= *[^; ]*', '$1=****'))
    } else {
        Write-Host 'Backplane: none (-DatabaseUrl none): the servers do not share messages'
    }

    # The servers read DATABASE_URL themselves: keep it (and "none") out of
    # their environment so --connection-string alone decides.
    $savedDatabaseUrl = $env:DATABASE_URL
    $env:DATABASE_URL = $null
    try {
    for ($i = 0; $i -lt $Count; $i++) {
        $port = $BasePort + $i
        $serverArgs = @('--urls', "http://localhost:$port") + $backplane
        # Start-Process joins arguments with spaces: quote each one.
        $argLine = ($serverArgs | ForEach-Object { '"' + ($_ -replace '"', '\"') + '"' }) -join ' '
        $procs.Add((Start-Process -FilePath $ServerBin -ArgumentList $argLine -NoNewWindow -PassThru `
            -RedirectStandardOutput (Join-Path $LogDir "chatserver$($i + 1).log") `
            -RedirectStandardError (Join-Path $LogDir "chatserver$($i + 1).err.log")))
    }
    } finally { $env:DATABASE_URL = $savedDatabaseUrl }

    $deadline = (Get-Date).AddSeconds($HealthTimeout)
    for ($i = 0; $i -lt $Count; $i++) {
        $port = $BasePort + $i
        while ($true) {
            if ($procs[$i].HasExited) {
                Write-Host "chatserver$($i + 1) (port $port) exited; its log:"
                Show-Log ($i + 1)
                return 1
            }
            $code = Get-Status "http://localhost:$port/health/ready"
            if ($code -eq 404) { $code = Get-Status "http://localhost:$port/health" }
            if ($code -eq 200) { break }
            if ((Get-Date) -gt $deadline) {
                Write-Host "chatserver$($i + 1) (port $port) not healthy after $($HealthTimeout)s; its log:"
                Show-Log ($i + 1)
                return 1
            }
            Start-Sleep -Milliseconds 200
        }
    }

    Write-Host ''
    for ($i = 0; $i -lt $Count; $i++) {
        Write-Host "chatserver$($i + 1): http://localhost:$($BasePort + $i)/chathub (log: $(Join-Path $LogDir "chatserver$($i + 1).log"))"
    }
    Write-Host "All $Count servers are healthy. Press Ctrl+C to stop them."

    while ($true) {
        for ($i = 0; $i -lt $Count; $i++) {
            if ($procs[$i].HasExited) {
                Write-Host "chatserver$($i + 1) exited; stopping the others."
                return 1
            }
        }
        Start-Sleep -Milliseconds 500
    }
}

$exitCode = 1
try {
    $exitCode = Invoke-Servers
} finally {
    # Runs on Ctrl+C too. On Windows the servers share this console and get
    # the Ctrl+C themselves; elsewhere SIGTERM asks them to shut down
    # gracefully. Whatever is still running after 35 s is killed.
    foreach ($p in $procs) {
        if (-not $p.HasExited -and -not $onWindows) { & /bin/kill -TERM $p.Id 2>$null }
    }
    foreach ($p in $procs) {
        if (-not $p.WaitForExit(35000)) { Stop-Process -Id $p.Id -Force -ErrorAction SilentlyContinue }
    }
    $http.Dispose()
    if ($LogDir -ne $work) { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }
}
exit $exitCode
