"""Example handlers served by config.example.yaml."""
