-- Moderation rights belong to the account, not to a username: granted by an operator
-- (`viora moderators grant USERNAME`), or at start-up to the existing accounts VIORA_ADMIN_USERS names.
ALTER TABLE users ADD COLUMN moderator boolean NOT NULL DEFAULT false;
