package dev.tourniquet.servlet;

import jakarta.servlet.DispatcherType;
import java.nio.file.Path;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;

/**
 * Spring Boot auto-configuration: with the property {@value #PROPERTY} naming the enforcement file, a
 * servlet web application gets a {@link TourniquetFilter} in front of every URL, ahead of every other
 * filter (security filters included, as IIS runs URL Rewrite before authentication). The filter is also a
 * bean, so the application can read its {@link TourniquetFilter#status()} and
 * {@link TourniquetFilter#hits()}. Without the property, nothing is registered.
 */
@AutoConfiguration
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnProperty(name = TourniquetAutoConfiguration.PROPERTY)
public class TourniquetAutoConfiguration {
  /** The property naming the enforcement file. */
  public static final String PROPERTY = "tourniquet.enforcement-file";

  /** Creates the configuration; Spring Boot calls it. */
  public TourniquetAutoConfiguration() {}

  /**
   * The filter, watching the file that {@value #PROPERTY} names.
   *
   * @param environment the environment holding the property
   * @return the filter, not yet initialised (the container initialises it)
   */
  @Bean
  @ConditionalOnMissingBean
  public TourniquetFilter tourniquetFilter(Environment environment) {
    return new TourniquetFilter(Path.of(environment.getRequiredProperty(PROPERTY).trim()));
  }

  /**
   * Registers the filter for every URL at the highest precedence, for requests (not forwards, includes,
   * errors or async dispatches, which the request already passed through).
   *
   * @param filter the filter
   * @return the registration
   */
  @Bean
  @ConditionalOnMissingBean(name = "tourniquetFilterRegistration")
  public FilterRegistrationBean<TourniquetFilter> tourniquetFilterRegistration(TourniquetFilter filter) {
    FilterRegistrationBean<TourniquetFilter> registration = new FilterRegistrationBean<>(filter);
    registration.setName("tourniquetFilter");
    registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
    registration.addUrlPatterns("/*");
    registration.setDispatcherTypes(DispatcherType.REQUEST);
    return registration;
  }
}
