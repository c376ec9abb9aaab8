"""The campaign: corpus, bugs, stats, power schedule, the loop, parallel workers, the campaign directory."""
