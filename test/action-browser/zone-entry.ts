// The same page with zone.js loaded first, as an Angular app (or any app that registers ZoneContextManager)
// loads it: it replaces the global Promise before anything else runs, and page.ts then registers
// ZoneContextManager instead of StackContextManager.
import 'zone.js';
import './page.ts';
