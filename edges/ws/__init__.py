"""The websocket edge: the connection loop and the request handlers."""
