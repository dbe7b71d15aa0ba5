import requests

API_URL = "http://localhost:8000/api/v1"

# Регистрация
response = requests.post(f"{API_URL}/auth/register", json={
    "username": "user1",
    "email": "user1@example.com",
    "password": "password123"
})
token = response.json()["access_token"]

# Установка API ключа
requests.put(
    f"{API_URL}/users/api-key",
    headers={"Authorization": f"Bearer {token}"},
    json={"api_key": "your_replicate_api_key"}
)

# Генерация изображения
response = requests.post(
    f"{API_URL}/images/generate",
    headers={"Authorization": f"Bearer {token}"},
    json={
        "prompt": "a beautiful landscape",
        "resolution": "1K",
        "aspect_ratio": "16:9",
        "generation_mode": "text-to-image"
    }
)
generation_id = response.json()["image_id"]

# Проверка статуса
response = requests.get(
    f"{API_URL}/images/status/{generation_id}",
    headers={"Authorization": f"Bearer {token}"}
)
print(response.json())
