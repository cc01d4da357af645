/**
 * The HTTP rule engine: the IIS URL Rewrite rule model, its readers, and a linear-time evaluator.
 *
 * <p>The pipeline, one stage per type:
 *
 * <pre>
 *   RuleXmlReader / RuleJson  →  RuleSet  →  RuleCompiler  →  CompiledRules  →  Decision
 *   (IIS XML or native JSON)     (model)     (validate,        (prefilter +      (allow, abort,
 *                                             RE2 translate)    ordered eval)     respond, …)
 * </pre>
 *
 * <p>{@link dev.tourniquet.rules.RuleSet} and the records it holds are the model, a faithful image of the
 * IIS {@code <rewrite>} section. {@link dev.tourniquet.rules.RuleCompiler} turns a model into
 * {@link dev.tourniquet.rules.CompiledRules}, rejecting every construct that cannot run in time linear in
 * the input (back-references inside a pattern, lookarounds other than the leading lookahead conjunction
 * idiom). Evaluation never backtracks: every pattern runs on RE2/J, and a literal prefilter (Aho-Corasick
 * over each distinct input) skips rules that cannot match, so the cost per request stays nearly flat as
 * the number of rules grows, while IIS's ordered, {@code stopProcessing} semantics stay exact.
 */
package dev.tourniquet.rules;
