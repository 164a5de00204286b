// Filled in by its integration issue; the entry point exists so the exports map is complete.
export {};
