"""Domain services: the platform's rules (accounts, social, messaging, intelligence, durable streams)."""
