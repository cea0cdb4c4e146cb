"""The bot's handlers, by audience: the gate, officers, and admins (users, gallery, lookups);
thin: parse the update, call the service, format with bot.texts."""
