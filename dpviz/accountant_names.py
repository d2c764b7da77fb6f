"""The accountants a user can choose, by name. Importing this loads nothing heavy, so the sidebar
can be drawn while dp-accounting (and scipy, ~0.7 s) is still loading on a fresh server."""

ACCOUNTANTS = ("rdp", "pld", "rdp-legacy")
ACCOUNTANT_LABELS = {
    "rdp": "RDP (dp-accounting, fast)",
    "pld": "PLD (dp-accounting, tight)",
    "rdp-legacy": "RDP, legacy conversion (older TF Privacy tutorials; looser)",
}
