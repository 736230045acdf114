"""The file exchange with parties."""
