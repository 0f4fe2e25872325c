"""From a commit to images: the revision built, the app's image, the base and the stack's images, the registry."""
