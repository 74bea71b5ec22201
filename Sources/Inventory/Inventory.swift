// Inventory: PCI enumeration through libpci.
