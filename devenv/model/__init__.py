"""The pure core: manifest -> resolved stack -> rendered files. No Docker, no socket, no clock."""
