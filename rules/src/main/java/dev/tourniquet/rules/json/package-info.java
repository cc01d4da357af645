/**
 * A strict JSON reader and writer with no dependency, shared by the native rule format
 * ({@code dev.tourniquet.rules.RuleJson}) and the servlet filter's enforcement and hit-count files, so
 * that neither brings a JSON library into the application it runs in.
 */
package dev.tourniquet.rules.json;
