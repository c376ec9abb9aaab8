"""What a campaign leaves for people: triage, minimized cases, reproducers, bug reports, the campaign
report, the nightly CI verdict, and the terminal views of the CLI."""
