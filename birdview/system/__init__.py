"""What birdview asks of the operating system: the priority of its background work."""
