//! One HTTP endpoint's declaration, and the router built from declarations. The full router
//! (the server) and a one-endpoint router (a Lambda function) are built by the same code,
//! so both run the same middleware.

use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use crate::apikeys::Scope;
use crate::state::AppState;
use crate::uses::Resource;

/// One HTTP endpoint: its route, and the Lambda function (binary) that serves it alone.
pub struct Endpoint {
    /// The binary in functions/ and the function in template.yaml.
    pub function: &'static str,
    pub method: Method,
    /// In the syntax axum and API Gateway share: `/api/users/{id}`.
    pub path: &'static str,
    pub route: fn() -> MethodRouter<AppState>,
    /// Its part of the OpenAPI document, from its handler's annotation.
    pub doc: crate::openapi::Describe,
    /// What AWS it uses, which its function's IAM policy must grant (and nothing more).
    pub uses: &'static [Resource],
    /// How its function is sized and how much traffic reaches it.
    pub tier: Tier,
    /// The scope an API key needs to call it; `None`: keys are refused here (403), only a
    /// signed-in user's token will do. Enforced for every route by the one gate below, and
    /// written into the OpenAPI document as the route's second scheme.
    pub key_scope: Option<Scope>,
}

/// What sets an endpoint's function apart in the deployment (template.yaml is written from
/// it: `growstack generate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// 256 MB, and the API's default throttling.
    Standard,
    /// It hashes a password: 1,024 MB for the CPU share Argon2 needs, its own (tighter)
    /// API Gateway throttling on both mounts, and reserved concurrency when the stack asks
    /// for it (`AuthReservedConcurrency`).
    PasswordHashing,
}

/// What serving an endpoint takes: all of it but its description. A Lambda function is built
/// from this, made at compile time (`const { X.served() }`), so that the code describing its
/// endpoint (70 kB of schema builders) is not in its binary.
#[derive(Clone, Copy)]
pub struct Served {
    pub function: &'static str,
    pub path: &'static str,
    pub route: fn() -> MethodRouter<AppState>,
    pub uses: &'static [Resource],
    pub key_scope: Option<Scope>,
}

impl Endpoint {
    pub const fn served(&self) -> Served {
        Served {
            function: self.function,
            path: self.path,
            route: self.route,
            uses: self.uses,
            key_scope: self.key_scope,
        }
    }
}

/// The router serving `endpoints`, with the middleware every request gets.
pub fn router_for<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>, state: AppState) -> Router {
    router_serving(endpoints.into_iter().map(Endpoint::served), state)
}

/// As [`router_for`], from what serving takes.
pub fn router_serving(endpoints: impl IntoIterator<Item = Served>, state: AppState) -> Router {
    endpoints
        .into_iter()
        .fold(Router::new(), |router, endpoint| {
            let (function, declared, key_scope) = (endpoint.function, endpoint.uses, endpoint.key_scope);
            let gate = state.clone();
            let route = (endpoint.route)().layer(tower::layer::layer_fn(move |inner| CheckUses {
                inner,
                function,
                declared,
                key_scope,
                state: gate.clone(),
            }));
            match v1_path(endpoint.path) {
                Some(v1) => router.route(&v1, route.clone()).route(endpoint.path, route),
                None => router.route(endpoint.path, route),
            }
        })
        .fallback(crate::http::not_found)
        // A bug that panics answers 500 in the envelope (and is logged as one) instead of
        // dropping the connection or failing the Lambda invocation.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            axum::response::IntoResponse::into_response(crate::Error::Internal(anyhow::anyhow!("handler panicked")))
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::log_request))
        .layer(axum::middleware::from_fn(crate::http::security_headers))
        .with_state(state)
}

/// `/api/users` → `/api/v1/users`: where the Node version's clients call each `/api` route.
/// Both paths run the same route (and, in Lambda, the same function).
pub fn v1_path(path: &str) -> Option<String> {
    path.strip_prefix("/api/").map(|rest| format!("/api/v1/{rest}"))
}

/// Runs one endpoint's request within its invocation's deadline (in Lambda), recording what
/// AWS it uses; a use its endpoint does not declare is logged as an error, and in debug
/// builds (the tests) answered 500, so that the template's policies, checked against the
/// declarations, cannot fall behind the code. It is also the API keys' gate: a request
/// presenting a key reaches the handler only if the endpoint's `key_scope` admits it
/// (`apikeys::authenticate`). A service of its own rather than `middleware::from_fn`, which
/// clones the route and boxes it again for every request.
#[derive(Clone)]
struct CheckUses<S> {
    inner: S,
    function: &'static str,
    declared: &'static [Resource],
    key_scope: Option<Scope>,
    state: AppState,
}

impl<S> tower::Service<axum::extract::Request> for CheckUses<S>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::extract::Request) -> Self::Future {
        // In Lambda, the invocation's deadline bounds the idempotency claims the request takes.
        let deadline = req.extensions().get::<lambda_http::Context>().map(|c| c.deadline());
        let run = match crate::apikeys::presented(req.headers()).map(str::to_owned) {
            None => futures::future::Either::Left(self.inner.call(req)),
            Some(key) => {
                // The handler runs after the key is checked: with the service made ready for
                // this call (the clone left in its place is readied for the next).
                let mut inner = self.inner.clone();
                std::mem::swap(&mut self.inner, &mut inner);
                let (state, scope) = (self.state.clone(), self.key_scope);
                futures::future::Either::Right(async move {
                    match crate::apikeys::authenticate(&state, &key, scope).await {
                        Ok(caller) => {
                            req.extensions_mut().insert(caller);
                            inner.call(req).await
                        }
                        Err(refused) => Ok(axum::response::IntoResponse::into_response(refused)),
                    }
                })
            }
        };
        let (function, declared) = (self.function, self.declared);
        Box::pin(async move {
            let (response, used) = match deadline {
                Some(deadline) => crate::uses::recording(crate::idempotency::with_deadline(deadline, run)).await,
                None => crate::uses::recording(run).await,
            };
            let response = response?;
            // An enclosing recording (a test's) sees what the request used too.
            used.iter().for_each(|r| crate::uses::record(*r));
            let undeclared = crate::uses::undeclared(&used, declared);
            if undeclared.is_empty() {
                return Ok(response);
            }
            tracing::error!(function, ?undeclared, "the function used AWS resources its endpoint does not declare");
            if cfg!(debug_assertions) {
                return Ok(axum::response::IntoResponse::into_response(crate::Error::Internal(anyhow::anyhow!(
                    "{function} used {undeclared:?} without declaring it"
                ))));
            }
            Ok(response)
        })
    }
}
