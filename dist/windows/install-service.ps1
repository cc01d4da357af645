# Installs the Tourniquet agent as a Windows service with sc.exe (no WinSW needed), running
# "java -jar tourniquet.jar agent --config ..." as LocalSystem, restarted on failure.
# Run in an elevated PowerShell:  .\install-service.ps1 [-JavaExe "C:\Program Files\Java\jdk-17\bin\java.exe"]
# Remove with:  sc.exe stop tourniquet-agent; sc.exe delete tourniquet-agent
#
# sc.exe needs a program that answers the service control manager; a plain java.exe does not. This script
# therefore registers the agent through WinSW when tourniquet-agent.exe (WinSW) is present next to it, and
# otherwise refuses with instructions rather than registering a service that Windows would kill at start.
param(
  [string]$JavaExe = "java.exe",
  [string]$InstallDir = "$env:ProgramFiles\Tourniquet",
  [string]$DataDir = "$env:ProgramData\Tourniquet"
)
$ErrorActionPreference = "Stop"

$winsw = Join-Path $PSScriptRoot "tourniquet-agent.exe"
if (-not (Test-Path $winsw)) {
  Write-Error ("expected WinSW at $winsw (download WinSW-x64.exe from https://github.com/winsw/winsw/releases " +
    "and rename it); sc.exe cannot host java.exe directly because java.exe does not answer the service control manager")
}
if (-not (Test-Path (Join-Path $InstallDir "tourniquet.jar"))) {
  Write-Error "expected $InstallDir\tourniquet.jar; copy cli\target\tourniquet.jar there first"
}
if (-not (Test-Path (Join-Path $DataDir "agent.yaml"))) {
  Write-Error "expected $DataDir\agent.yaml; start from dist\agent.yaml.example (see docs\operating.md)"
}

# The state directory holds the admin token: only SYSTEM and Administrators may read it.
New-Item -ItemType Directory -Force -Path (Join-Path $DataDir "state") | Out-Null
icacls (Join-Path $DataDir "state") /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null

& $winsw install
if ($LASTEXITCODE -ne 0) { Write-Error "WinSW install failed with exit code $LASTEXITCODE" }
# Restart on failure: after 30 s, then 60 s; the failure count resets after an hour.
sc.exe failure tourniquet-agent reset= 3600 actions= restart/30000/restart/60000/restart/60000 | Out-Null
sc.exe config tourniquet-agent start= delayed-auto | Out-Null
& $winsw start
Write-Output "tourniquet-agent installed and started; check it with: tourniquet status --config `"$DataDir\agent.yaml`""
