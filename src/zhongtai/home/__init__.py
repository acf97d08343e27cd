"""The home page: a signed-in user's pending work, recent activity and the platform's key figures."""
