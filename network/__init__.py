"""The peer-to-peer network on py-libp2p: not built yet."""
