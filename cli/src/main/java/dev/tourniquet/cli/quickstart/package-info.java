/**
 * {@code tourniquet quickstart}: the whole Tourniquet loop on one machine, on embedded defaults, narrated
 * step by step (a fleet server, a signed demo feed, a demo app behind the servlet filter, an agent). Only
 * {@link dev.tourniquet.cli.quickstart.QuickstartCommand} is public.
 */
package dev.tourniquet.cli.quickstart;
